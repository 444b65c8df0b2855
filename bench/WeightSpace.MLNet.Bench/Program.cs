// Benchmarks (not tests): each prints absolute figures and a ratio against a baseline measured in the same run.
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- zoo-io [--rows 100000]
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- augment [--rows 200000]
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- tetris [--models 1000 --epochs 75 --baseline-models 10 --train-images N]  (also times the TorchSharp population on up to 200 models)
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- cnn [--models 8 --images 2048]
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- mlp-kernels
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- embed --zoo DIR [--epochs N --dim D --lr X --budget SECONDS --seed S --candidates K --views K --lambda-grid paper|wide ...]  (hyper-representation + probes, 70/15/15; prints each probe's λ)
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- kill-campaign [--kills 20 --seed 1]  (SIGKILL during generate and merge, then resume; rows compared)
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- foreign --zoo DIR [--seeds 1,2,3 --featurizers W,sW,sWU,neurons,ecd,ecd+sW --supervised 1 --steps 3000 --stats 0|1 --lr X --wd X --patience N --targets A,B]  (every featurizer × linear/trees + the supervised predictor; mean ± std over seeds)
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- stock --zoo DIR [--seeds 1,2,3 --targets Epoch,TestAccuracy]  (WeightEmbedding vs s(W) → NormalizeMeanVariance → SDCA)
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- embed-speed [--layout NAME --rows 20000 --epochs 2 --dim 64 --ff 128 --batch 500 --views 10 --tstats 1]  (training and embedding, C# kernels and libtorch, against sgemm in the same run)
//   dotnet run -c Release --project bench/WeightSpace.MLNet.Bench -- conv-check [--trials 20 --steps 8]  (libtorch's conv2d weight gradient vs float64, mkldnn on/off, vs the reference's unfold + matmul)
using WeightSpace.MLNet.Bench;

var options = new Dictionary<string, int>();
if (args.FirstOrDefault() is not ("embed" or "label-oracle" or "foreign" or "stock")) for (int i = 1; i + 1 < args.Length; i += 2) { if (args[i] == "--layout") continue; options[args[i].TrimStart('-')] = int.Parse(args[i + 1]); }
int Opt(string name, int fallback) => options.TryGetValue(name, out var v) ? v : fallback;
switch (args.FirstOrDefault())
{
    case "zoo-io": ZooIoBench.Run(Opt("rows", 100_000)); break;
    case "augment": AugmentBench.Run(Opt("rows", 200_000)); break;
    case "tetris": TrainingBench.Tetris(Opt("models", 1000), Opt("epochs", 75), Opt("baseline-models", 10), Opt("train-images", 0)); break;
    case "mlp-kernels": KernelBench.Run(); break;
    case "cnn": TrainingBench.Cnn(Opt("models", 8), Opt("images", 2048)); break;
    case "embed": EmbedBench.Run(args); break;
    case "foreign": ForeignBench.Run(args); break;
    case "stock": StockPipelineBench.Run(args); break;
    case "label-oracle": LabelOracle.Run(args); break;
    case "kill-campaign": KillCampaign.Run(Opt("kills", 20), Opt("seed", 1)); break;
    case "conv-check": ConvCheck.Run(Opt("trials", 20), Opt("steps", 8)); break;
    case "embed-profile": EmbedProfile.Run(); break;
    case "embed-speed": EmbedSpeedBench.Run(args.Length > 2 && args[1] == "--layout" ? args[2] : "tetris-mlp-100", Opt("rows", 20_000), Opt("epochs", 2), Opt("dim", 64), Opt("ff", 128), Opt("batch", 500), Opt("views", 10), Opt("tstats", 1) == 1); break;
    default: Console.Error.WriteLine("usage: bench zoo-io|augment|tetris|cnn|mlp-kernels|embed|foreign|stock|label-oracle|kill-campaign|embed-profile|embed-speed|conv-check [--option N ...]"); return 2;
}
return 0;
