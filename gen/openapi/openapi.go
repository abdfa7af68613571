// Package openapi embeds the OpenAPI document of silo's REST routes, which
// `make generate` writes next to this file from the protos.
package openapi

import _ "embed"

// Document is the OpenAPI 2.0 document in YAML.
//
//go:embed silo.swagger.yaml
var Document []byte
