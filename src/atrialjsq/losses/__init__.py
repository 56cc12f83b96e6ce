"""The paper's losses: BCE, Dice, SE-LA (eq. 4), SE-scar (eq. 5), SA (eq. 6) and the total (eq. 7)."""
