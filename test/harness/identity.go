package harness

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
)

// ExtraNodeName is the user-info extra key kube-apiserver sets for a
// service-account token bound to a pod that runs on a node (the token's
// kubernetes.io.node.name claim). ValidatingAdmissionPolicies read it as
// request.userInfo.extra['authentication.kubernetes.io/node-name'].
const ExtraNodeName = "authentication.kubernetes.io/node-name"

// ServiceAccountUser returns the user name kube-apiserver gives the
// service account namespace/name.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// ServiceAccountGroups returns the groups kube-apiserver gives every
// service account of namespace.
func ServiceAccountGroups(namespace string) []string {
	return []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}
}

// ImpersonationConfig returns the admin configuration impersonating user in
// groups with extra user info (for example {ExtraNodeName: {"n1"}}). RBAC,
// admission webhooks and ValidatingAdmissionPolicies all see the impersonated
// identity; prefer [ControlPlane.ServiceAccountConfig] where a real token is
// possible.
func (cp *ControlPlane) ImpersonationConfig(user string, groups []string, extra map[string][]string) *rest.Config {
	cfg := rest.CopyConfig(cp.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups, Extra: extra}
	return cfg
}

// TokenOption changes the token [ControlPlane.ServiceAccountConfig] requests.
type TokenOption func(*authenticationv1.TokenRequestSpec)

// BoundToPod binds the token to the named pod of the service account's
// namespace, as the kubelet does for a projected token. When that pod is
// bound to a node, kube-apiserver adds the node's name and UID to the token,
// and to the identity as the extra [ExtraNodeName].
func BoundToPod(pod *corev1.Pod) TokenOption {
	return func(s *authenticationv1.TokenRequestSpec) {
		s.BoundObjectRef = &authenticationv1.BoundObjectReference{
			Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID,
		}
	}
}

// ServiceAccountConfig returns a client configuration that authenticates
// with a real token for the service account namespace/name, issued through
// the TokenRequest API (the service account must exist, for example from the
// shipped manifests applied with [ControlPlane.Apply]). Requests made with it
// run under exactly that account's RBAC, as the component's pod would.
func (cp *ControlPlane) ServiceAccountConfig(ctx context.Context, namespace, name string, opts ...TokenOption) (*rest.Config, error) {
	spec := authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}
	for _, o := range opts {
		o(&spec)
	}
	tr, err := cp.Client.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name,
		&authenticationv1.TokenRequest{Spec: spec}, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("request a token for service account %s/%s: %w", namespace, name, err)
	}
	cfg := &rest.Config{
		Host:            cp.URL,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.pki.CA.CertPEM},
		BearerToken:     tr.Status.Token,
		QPS:             cp.Config.QPS,
		Burst:           cp.Config.Burst,
		Timeout:         cp.Config.Timeout,
	}
	return cfg, nil
}

// WhoAmI returns the identity kube-apiserver sees for cfg (a
// SelfSubjectReview, as kubectl auth whoami does).
func WhoAmI(ctx context.Context, cfg *rest.Config) (authenticationv1.UserInfo, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	r, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, fmt.Errorf("self subject review: %w", err)
	}
	return r.Status.UserInfo, nil
}
