"""The pipeline service: chains of ASR, translation and TTS run over the other services."""
