"""NVIDIA Riva gRPC facade: Riva ASR, TTS and NMT clients served by our asr, tts and nmt services."""
