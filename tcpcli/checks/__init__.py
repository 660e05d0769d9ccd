"""Cross-flag rules of one capability each (reach, dialogues, recording), called by tcpcli.validate."""
