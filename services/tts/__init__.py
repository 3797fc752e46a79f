"""The TTS service: ai4vc.tts.v1.TtsService over Triton's tts / tts_streaming models."""
