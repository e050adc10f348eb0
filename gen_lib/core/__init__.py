"""共通の道具: 入力検査とシード (validation)、内容から鍵を作るキャッシュ (cache)、MLP と学習ループ (nn)、図のスタイルと決定的な SVG (plotting)。
"""
