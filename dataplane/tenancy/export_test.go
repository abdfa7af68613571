package tenancy

import "time"

// SetSilenceTimeout shortens how long f waits on a silent stream, for
// tests.
func (f *RemoteFeed) SetSilenceTimeout(d time.Duration) {
	f.silence = d
}
