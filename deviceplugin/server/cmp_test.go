package server_test

import (
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
)

var cmpProto = cmp.Options{protocmp.Transform()}
