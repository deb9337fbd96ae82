"""python3 scripts/tiktok_fake PORT CLIENT_KEY CLIENT_SECRET: the TikTok fake (see
tiktok_fake/__init__.py)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tiktok_fake.server import main  # noqa: E402

main()
