package webhook

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	resourceapi "k8s.io/api/resource/v1"
	"sigs.k8s.io/yaml"

	"github.com/gantry-dev/gantry/core/contract"
	"github.com/gantry-dev/gantry/core/dra"
	"github.com/gantry-dev/gantry/core/share"
)

// readmeBlocks returns the fenced block after each "<!-- rewrite: X -->"
// marker of README.md, by X.
func readmeBlocks(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("README.md")
	require.NoError(t, err)
	out := map[string]string{}
	rest := string(data)
	for {
		_, after, ok := strings.Cut(rest, "<!-- rewrite: ")
		if !ok {
			return out
		}
		name, after, _ := strings.Cut(after, " -->")
		_, after, ok = strings.Cut(after, "```")
		require.True(t, ok, "block %q", name)
		_, after, _ = strings.Cut(after, "\n")
		block, after, ok := strings.Cut(after, "```")
		require.True(t, ok, "block %q ends", name)
		out[name] = block
		rest = after
	}
}

// TestREADMERewrite: the README's side-by-side YAML and refusal are what
// the webhook does.
func TestREADMERewrite(t *testing.T) {
	blocks := readmeBlocks(t)
	for _, name := range []string{"before", "after", "template", "by hand", "refusal"} {
		require.Contains(t, blocks, name)
	}
	var before, after corev1.Pod
	require.NoError(t, yaml.UnmarshalStrict([]byte(blocks["before"]), &before))
	require.NoError(t, yaml.UnmarshalStrict([]byte(blocks["after"]), &after))
	var tmplDoc resourceapi.ResourceClaimTemplate
	require.NoError(t, yaml.UnmarshalStrict([]byte(blocks["template"]), &tmplDoc))
	tmplDoc.Namespace = before.Namespace

	cfg, _ := draConfig(&tmplDoc)
	review := reviewReq{op: admissionv1.Create, user: tenantUser, obj: &before}.request(t)
	review.Namespace = before.Namespace
	resp := postWith(t, cfg, PathDRA, review)
	require.True(t, resp.Allowed, "%+v", resp.Result)
	if diff := cmp.Diff(&after, patched(t, &before, resp)); diff != "" {
		t.Errorf("the README's rewritten pod (-README,+webhook):\n%s", diff)
	}
	want := dra.ClaimTemplate(before.Namespace, dra.ShareOf(mustParse(t, &before), mustParse(t, &before).Parts[0]))
	assert.Equal(t, want.ObjectMeta, tmplDoc.ObjectMeta)
	assert.True(t, dra.SameClaimSpec(want.Spec.Spec, tmplDoc.Spec.Spec), "the README's template is Gantry's")

	docs := bytes.Split([]byte(blocks["by hand"]), []byte("\n---\n"))
	require.Len(t, docs, 2)
	var claim resourceapi.ResourceClaim
	require.NoError(t, yaml.UnmarshalStrict(docs[0], &claim))
	var byHand corev1.Pod
	require.NoError(t, yaml.UnmarshalStrict(docs[1], &byHand))
	assert.True(t, dra.SameClaimSpec(want.Spec.Spec, claim.Spec), "the claim by hand asks what the template asks: %+v", claim.Spec)
	assert.Equal(t, before.Annotations, byHand.Annotations)
	review = reviewReq{op: admissionv1.Create, user: tenantUser, obj: &byHand}.request(t)
	review.Namespace = byHand.Namespace
	resp = postWith(t, cfg, PathDRA, review)
	require.True(t, resp.Allowed)
	assert.Nil(t, resp.Patch, "the pod by hand is left as written")
	require.True(t, post(t, PathValidate, reviewReq{op: admissionv1.Create, user: tenantUser, obj: &byHand}.request(t)).Allowed)

	// The refusal, for the same pod asking 47 percent of any model.
	odd := before.DeepCopy()
	odd.Annotations = nil
	empty, _ := draConfig()
	review = reviewReq{op: admissionv1.Create, user: tenantUser, obj: odd}.request(t)
	review.Namespace = odd.Namespace
	resp = postWith(t, empty, PathDRA, review)
	require.False(t, resp.Allowed)
	require.Len(t, resp.Result.Details.Causes, 1)
	c := resp.Result.Details.Causes[0]
	assert.Equal(t, strings.TrimSpace(blocks["refusal"]), c.Field+": "+c.Message)
	assert.Equal(t, "47", odd.Spec.Containers[0].Resources.Limits.Name(contract.ResourceGPUPercent, "").String())
}

func mustParse(t *testing.T, pod *corev1.Pod) *share.Request {
	t.Helper()
	req, err := share.Parse(pod)
	require.NoError(t, err)
	return req
}
