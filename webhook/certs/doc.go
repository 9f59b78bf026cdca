// Package certs manages the webhook's serving certificate without
// cert-manager: a CA and a serving certificate kept in one Secret, shared by
// every replica, renewed before they expire, and the CA kept current in the
// caBundle of the webhook configurations that call the webhook.
//
// The CA is rotated in two steps so that kube-apiserver never meets a
// certificate it cannot verify: first a new CA is added to the bundle (and
// the bundle injected) while the old CA still signs; once every
// configuration carries the new CA, it becomes the signer and the serving
// certificate is re-issued. A retired CA stays in the bundle until it
// expires.
package certs
