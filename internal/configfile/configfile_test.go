package configfile_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gantry-dev/gantry/internal/configfile"
)

type file struct {
	metav1.TypeMeta `json:",inline"`
	Size            int `json:"size"`
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name, data, wantErr string
		want                int
	}{
		{name: "the declared type", data: "apiVersion: x.dev/v1\nkind: F\nsize: 3\n", want: 3},
		{name: "json too", data: `{"apiVersion":"x.dev/v1","kind":"F","size":4}`, want: 4},
		{name: "an unknown field", data: "apiVersion: x.dev/v1\nkind: F\nsise: 3\n", wantErr: `decoding f file: error unmarshaling JSON: while decoding JSON: json: unknown field "sise"`},
		{name: "a duplicate field", data: "apiVersion: x.dev/v1\nkind: F\nsize: 3\nsize: 4\n", wantErr: `decoding f file: error converting YAML to JSON: yaml: unmarshal errors:` + "\n" + `  line 4: key "size" already set in map`},
		{name: "another version", data: "apiVersion: x.dev/v2\nkind: F\n", wantErr: `f file: apiVersion: Unsupported value: "x.dev/v2": supported values: "x.dev/v1"`},
		{name: "no type at all", data: "size: 1\n", wantErr: `f file: [apiVersion: Unsupported value: "": supported values: "x.dev/v1", kind: Unsupported value: "": supported values: "F"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f file
			err := configfile.Decode([]byte(tt.data), "f file", &f, &f.TypeMeta, "x.dev/v1", "F")
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, f.Size)
		})
	}
}
