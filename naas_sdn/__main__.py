from naas_sdn.cli import main

raise SystemExit(main())
