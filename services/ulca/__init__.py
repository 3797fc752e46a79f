"""The Bhashini / ULCA / Dhruva facade: Dhruva's JSON API as a thin adapter over asr, nmt and tts."""
