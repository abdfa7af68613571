package server

import (
	"io"
	"log/slog"

	"silo.dev/silo/internal/config"
)

// NewLogger returns the process's logger, writing records at cfg.LogLevel
// and above to w in cfg.LogFormat.
func NewLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}

	return slog.New(slog.NewJSONHandler(w, opts))
}
