RULES = {
    "ML001": "a rule",
    "ML002": "a rule with no section",
}
