"""The ASR service: ai4vc.asr.v1.AsrService over Triton's asr_am_ensemble / asr_streaming models."""
