from rlhf_gym.cli import main

raise SystemExit(main())
