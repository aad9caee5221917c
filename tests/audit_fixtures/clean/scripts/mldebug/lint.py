RULES = {
    "ML001": "a rule",
}
