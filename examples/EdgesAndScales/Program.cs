// dotnet run --project examples/EdgesAndScales -c Release -- [IMAGE] [OUT_DIR]
string image = args.Length > 0 ? args[0] : Path.Combine("docs", "images", "scene.png");
string outDir = args.Length > 1 ? args[1] : "edges";
EdgesAndScales.Walkthrough.Run(image, outDir, Console.Out);
