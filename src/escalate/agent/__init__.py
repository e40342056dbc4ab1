"""One model's conversation: the tool loop, the text editor tool, and the prompts it reads."""
