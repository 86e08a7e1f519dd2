return ConvKit.Cli.Cli.Run(args, Console.Out, Console.Error);
