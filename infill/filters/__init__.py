"""Post-processing filters: each takes the completion text and the request and returns the text to
keep ("" to drop it). `infill.completion.postprocess` runs them in order."""
