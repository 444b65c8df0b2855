// Benchmarks (not tests): each prints absolute figures and a ratio against a baseline measured in the same run.
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- zoo-io [--rows 100000]
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- augment [--rows 200000]
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- tetris [--models 1000 --epochs 75 --baseline-models 10]  (also times the TorchSharp population on up to 200 models)
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- cnn [--models 8 --images 2048]
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- mlp-kernels
using WeightSpace.MLNet.Bench;

var options = new Dictionary<string, int>();
for (int i = 1; i + 1 < args.Length; i += 2) options[args[i].TrimStart('-')] = int.Parse(args[i + 1]);
int Opt(string name, int fallback) => options.TryGetValue(name, out var v) ? v : fallback;
switch (args.FirstOrDefault())
{
    case "zoo-io": ZooIoBench.Run(Opt("rows", 100_000)); break;
    case "augment": AugmentBench.Run(Opt("rows", 200_000)); break;
    case "tetris": TrainingBench.Tetris(Opt("models", 1000), Opt("epochs", 75), Opt("baseline-models", 10)); break;
    case "mlp-kernels": KernelBench.Run(); break;
    case "cnn": TrainingBench.Cnn(Opt("models", 8), Opt("images", 2048)); break;
    default: Console.Error.WriteLine("usage: bench zoo-io|augment|tetris|cnn [--option N ...]"); return 2;
}
return 0;
