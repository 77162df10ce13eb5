"""The one Telegram transport: everything that talks to the Bot API from this project.

- `bot` builds every PTB bot (the notify sender's, the chat application's) from `Settings`;
- `errors` maps a python-telegram-bot error onto rate limited / transient / final (the only
  mapper; `activities/notify.py` turns those into Temporal's retries);
- `parts` plans how a message is split (parts, or a head and the full text as a file);
- `pacing` keeps per-chat order and a chat's own wait after a 429;
- `delivery` sends a `ChatMessage` as parts through a bot, paced per chat;
- `sender` is the `Sender` protocol, the notify activities' Telegram sender, and `getChat`;
- `resume` sends the parts not yet delivered, for the notify activity and the bot's replies;
- `console` prints messages for the console chat (the same `Sender` protocol, no Telegram).
"""
