SeedWalkthrough.Walkthrough.Run(Console.Out);
