package maintain

// SetTestHook sets the hook called where a concurrent commit may land (see
// testHook) until the returned function is called.
func SetTestHook(f func(point string)) (restore func()) {
	testHook = f
	return func() { testHook = nil }
}
