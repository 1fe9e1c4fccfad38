#!/usr/bin/env bash
# Placeholder until the ManiSkill side lands: installs nothing yet.
exit 0
