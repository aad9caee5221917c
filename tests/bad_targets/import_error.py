"""Bad target: imports a module that is not installed."""
import not_installed_anywhere  # noqa: F401
