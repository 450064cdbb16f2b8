import sys

from madoguchi.bench import main

sys.exit(main(sys.argv[1:]))
