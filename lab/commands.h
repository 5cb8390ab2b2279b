// The subcommands, one line each, in the order of `ctlab --help` and of the
// tour: lab/lab_<name>.c defines `const lab_cmd lab_cmd_<name>`. lab.c
// includes this list twice, to declare them and to build lab_commands[].
LAB_COMMAND(tour)
LAB_COMMAND(race)
LAB_COMMAND(sync)
LAB_COMMAND(deadlock)
LAB_COMMAND(queue)
LAB_COMMAND(pool)
LAB_COMMAND(gil)
LAB_COMMAND(bench)
LAB_COMMAND(python)
