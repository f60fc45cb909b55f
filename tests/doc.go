// Package tests holds the suites that cross every layer of nhpush: the
// fault matrix (what the client, the HTTP API, the Azure queue function
// and the SQS handler each do for every failure of NH) and, under the soak
// build tag, the no-loss load test of `make soak`.
package tests
