package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestSAMTemplate checks what template.yaml promises: the runtime, the
// architecture, Makefile builds whose targets exist, an authorised API with
// the routes of the HTTP API, a queue with a dead-letter queue, partial batch
// failures, and a connection string that is not echoed.
func TestSAMTemplate(t *testing.T) {
	b, err := os.ReadFile("../../template.yaml")
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(b, &doc))
	get := func(path ...string) *yaml.Node {
		n := doc.Content[0]
		for _, p := range path {
			var next *yaml.Node
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == p {
						next = n.Content[i+1]
					}
				}
			}
			require.NotNil(t, next, "template.yaml has no %s", strings.Join(path, "."))
			n = next
		}
		return n
	}
	assert.Equal(t, "provided.al2023", get("Globals", "Function", "Runtime").Value)
	assert.Equal(t, "arm64", get("Globals", "Function", "Architectures").Content[0].Value)
	assert.Equal(t, "bootstrap", get("Globals", "Function", "Handler").Value)
	assert.Equal(t, "true", get("Parameters", "NhConnectionString", "NoEcho").Value)
	assert.Equal(t, "!Ref", get("Globals", "Function", "Environment", "Variables", "NH_CONNECTION_STRING").Tag)
	assert.Equal(t, "AWS_IAM", get("Resources", "NotificationsApi", "Properties", "Auth", "DefaultAuthorizer").Value)
	assert.Equal(t, "/api/notifications", get("Resources", "NotificationsApiFunction", "Properties", "Events", "Send", "Properties", "Path").Value)
	assert.Equal(t, "/api/installations/{id}", get("Resources", "NotificationsApiFunction", "Properties", "Events", "Installations", "Properties", "Path").Value)
	assert.Equal(t, "ReportBatchItemFailures", get("Resources", "NotificationsQueueFunction", "Properties", "Events", "Queue", "Properties", "FunctionResponseTypes").Content[0].Value)
	assert.Equal(t, "!GetAtt", get("Resources", "NotificationsQueue", "Properties", "RedrivePolicy", "deadLetterTargetArn").Tag)
	for _, out := range []string{"ApiUrl", "QueueUrl", "DeadLetterQueueUrl"} {
		get("Outputs", out, "Value")
	}
	makefile, err := os.ReadFile("../../Makefile")
	require.NoError(t, err)
	resources := get("Resources")
	for i := 0; i+1 < len(resources.Content); i += 2 {
		name, res := resources.Content[i].Value, resources.Content[i+1]
		if typ := valueOf(res, "Type"); typ != "AWS::Serverless::Function" {
			continue
		}
		assert.Equal(t, "makefile", valueOf(valueNode(res, "Metadata"), "BuildMethod"), name)
		assert.Regexp(t, regexp.MustCompile(`(?m)^[^#\n]*\bbuild-`+name+`\b[^\n]*:`), string(makefile), "Makefile has the target sam build calls for %s", name)
	}
}

func valueNode(n *yaml.Node, key string) *yaml.Node {
	for i := 0; n != nil && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func valueOf(n *yaml.Node, key string) string {
	if v := valueNode(n, key); v != nil {
		return v.Value
	}
	return ""
}
