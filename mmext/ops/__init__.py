# Copyright (c) mmext contributors. All rights reserved.
from .topk_select import *  # noqa: F401,F403
