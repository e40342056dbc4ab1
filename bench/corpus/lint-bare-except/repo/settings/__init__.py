from settings.env import env_int, env_list

__all__ = ["env_int", "env_list"]
