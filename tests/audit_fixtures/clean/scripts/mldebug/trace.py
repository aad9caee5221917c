LIVE_CHECK_IDS = ("beta-live",)
