from dataqueue.cli import main

main()
