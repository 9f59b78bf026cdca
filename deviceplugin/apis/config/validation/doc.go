// Package validation checks gantry-device-plugin's configuration and names
// each problem by its field path.
package validation
