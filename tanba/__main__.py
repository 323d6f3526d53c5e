from tanba.cli.main import main

main()
