LIVE_CHECK_IDS = ("train-mode",)
