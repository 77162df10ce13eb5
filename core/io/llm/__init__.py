"""The optional LLM: one client and wrapper (`client`), tools the model may call (`tools`, the
chat tools every caller shares in `chat_tools`), and one budgeted tool-calling loop (`loop`)."""
