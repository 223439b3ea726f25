from netid.cli.main import main

main()
