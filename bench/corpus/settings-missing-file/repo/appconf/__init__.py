from appconf.loader import SettingsError, load_settings

__all__ = ["SettingsError", "load_settings"]
