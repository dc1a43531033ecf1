"""The daemon's side of the engine, the only part that imports torch and transformers: the model
(`model`, `textonly`, `compiled`), the denoising loop (`denoise`), the encoder KV cache (`kvcache`),
one batch of requests (`engine`), the request queue (`scheduler`) and the socket server (`daemon`)."""
