"""Shared configuration, models and storage used by workflows, activities and the bot."""
