"""Real-browser tests: headless Chromium from Debian driven by selenium."""
