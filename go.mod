module github.com/nhpush/nhpush

go 1.26

require (
	github.com/aws/aws-lambda-go v1.55.1
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5
