"""The gym-gesture web app (Gradio); also the Hugging Face Space entry point. Options: python app.py --help."""

from gym_gesture.app import main

if __name__ == "__main__":
    main()
