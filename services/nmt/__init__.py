"""NMT service: text translation (and, later, detection and transliteration) over Triton."""
