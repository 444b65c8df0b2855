using TorchSharp;
using static TorchSharp.torch;
namespace WeightSpace.MLNet.Bench;
/// <summary>
/// Forward + backward of a population of 1000 Tetris MLPs (batch 32) written four ways: the floor of
/// PopulationTrainer's step on this CPU is libtorch's batched matmul over many tiny matrices.
/// </summary>
internal static class KernelBench { public static void Run() {


var P = 1000; var B = 32;
var x = randn(P, B, 16); var y = randint(0, 4, new long[]{P * B});
var w1 = randn(P, 5, 16).requires_grad_(); var w2 = randn(P, 4, 5).requires_grad_();
var w1t = randn(P, 16, 5).requires_grad_(); var w2t = randn(P, 5, 4).requires_grad_();
void Time(string name, Func<Tensor> f) {
  for (int i = 0; i < 5; i++) { using var s = NewDisposeScope(); f().backward(); }
  var sw = System.Diagnostics.Stopwatch.StartNew();
  for (int i = 0; i < 50; i++) { using var s = NewDisposeScope(); f().backward(); }
  Console.WriteLine($"{name}: {sw.Elapsed.TotalMilliseconds / 50:F2} ms");
}
Time("bmm transposed", () => nn.functional.cross_entropy(matmul(matmul(x, w1.transpose(1,2)).tanh(), w2.transpose(1,2)).reshape(P*B, 4), y, reduction: nn.Reduction.Sum));
Time("bmm [P,in,out]", () => nn.functional.cross_entropy(bmm(bmm(x, w1t).tanh(), w2t).reshape(P*B, 4), y, reduction: nn.Reduction.Sum));
Time("bcast mul-sum", () => nn.functional.cross_entropy((( (x.unsqueeze(3) * w1t.unsqueeze(1)).sum(2)).tanh().unsqueeze(3) * w2t.unsqueeze(1)).sum(2).reshape(P*B, 4), y, reduction: nn.Reduction.Sum));
Time("einsum", () => nn.functional.cross_entropy(einsum("pbi,pio->pbo", einsum("pbi,pio->pbo", x, w1t).tanh(), w2t).reshape(P*B, 4), y, reduction: nn.Reduction.Sum));
Console.WriteLine($"threads {get_num_threads()}");
set_num_threads(1);
Time("bmm [P,in,out] 1 thread", () => nn.functional.cross_entropy(bmm(bmm(x, w1t).tanh(), w2t).reshape(P*B, 4), y, reduction: nn.Reduction.Sum));
Time("bcast 1 thread", () => nn.functional.cross_entropy((( (x.unsqueeze(3) * w1t.unsqueeze(1)).sum(2)).tanh().unsqueeze(3) * w2t.unsqueeze(1)).sum(2).reshape(P*B, 4), y, reduction: nn.Reduction.Sum));
}}
