"""The mock's own control API under /__mock__ (not part of any vendor contract)."""
