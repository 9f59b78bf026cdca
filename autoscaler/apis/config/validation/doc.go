// Package validation checks an internal autoscaler configuration and
// returns every problem with the field path it is at.
package validation
